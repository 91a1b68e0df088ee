"""python -m bench.replies: replies understood per second on one core (target 2,000/s).

Reads the corpus's train and dev replies (never the test split) in their contexts, warms up
once (loading the word lists and the model), then times whole passes in this one process.
"""

import argparse
import time

from coach.inbound.understanding import Reader, default_reader
from coach.inbound.understanding.corpus import read_split

TARGET_PER_SECOND = 2_000


def per_second(reader: Reader, requests: list[tuple[str, str, str]], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text, context, language in requests:
            reader.understand(text, context, language)
        done += len(requests)
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replies", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure (3)")
    seconds = parser.parse_args().seconds
    requests = [(row.text, row.context, row.language)
                for split in ("train", "dev") for row in read_split(split)]
    started = time.perf_counter()
    shipped = default_reader()
    shipped.understand("warm up", "none", "en")
    print(f"first reply (loads word lists and model): {time.perf_counter() - started:.3f} s")
    print(f"replies: {len(requests):,} (train + dev), timed {seconds:.0f} s each, one process")
    for name, reader in (("word lists + logistic regression (shipped)", shipped),
                         ("word lists only", Reader(None))):
        rate = per_second(reader, requests, seconds)
        print(f"{name}: {rate:,.0f} replies/s (target {TARGET_PER_SECOND:,}), "
              f"{1e6 / rate:.0f} µs each")


if __name__ == "__main__":
    main()

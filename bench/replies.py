"""python -m bench.replies: replies understood per second on one core (target 2,000/s).

Reads the corpus's train and dev replies (never the test split) in their contexts, warms up
once (loading the word lists and the model), then times whole passes in this one process. The
figure is by the clock; the CPU time the process used is shown beside it, which other work on
a busy machine disturbs less.
"""

import argparse
import time

from coach.inbound.understanding import Reader, default_reader
from coach.inbound.understanding.corpus import read_split

TARGET_PER_SECOND = 2_000


def per_second(reader: Reader, requests: list[tuple[str, str, str]],
               seconds: float) -> tuple[float, float]:
    """Replies a second by the clock, and per second of the process's CPU time."""
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for text, context, language in requests:
            reader.understand(text, context, language)
        done += len(requests)
    return done / (time.perf_counter() - started), done / (time.process_time() - cpu)


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
        rate, on_cpu = per_second(reader, requests, seconds)
        print(f"{name}: {rate:,.0f} replies/s (target {TARGET_PER_SECOND:,}), "
              f"{1e6 / rate:.0f} µs each; {on_cpu:,.0f}/s of CPU time")


if __name__ == "__main__":
    main()

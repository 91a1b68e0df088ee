"""The four built-in focus qualities: slug -> the name people read."""

QUALITIES = {
    "knowing-yourself": "knowing and liking yourself",
    "trust-and-care": "trust and care",
    "honesty": "honesty",
    "clear-communication": "clear communication",
}


def quality_name(slug: str) -> str:
    return QUALITIES.get(slug, slug.replace("-", " "))


def other_qualities(slug: str) -> list[str]:
    return [name for key, name in QUALITIES.items() if key != slug]


def check_quality(slug: str) -> str:
    """Accept a slug or a display name; say what is allowed when it is neither."""
    wanted = slug.strip().casefold()
    for key, name in QUALITIES.items():
        if wanted in (key, name, name.replace(" ", "-")):
            return key
    choices = ", ".join(QUALITIES)
    raise ValueError(f"unknown focus quality {slug!r}; choose one of: {choices}")

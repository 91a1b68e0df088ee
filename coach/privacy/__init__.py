"""A person's own data: everything coach keeps about them (``export``), and erasing it
(``erase``), which leaves only a keyed hash of each address on the suppression list.

A layer of its own above the timeline: it reads and writes across every package below it.
"""

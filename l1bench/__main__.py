"""``python -m l1bench``: the same as the ``l1bench`` command."""

from l1bench.cli import main

main()

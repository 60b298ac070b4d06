"""``python -m unitscope`` is the ``unitscope`` command."""

from .cli import main

main()

"""``python -m sk_pixels`` is the ``sk-pixels`` command."""

from sk_pixels.cli import main

raise SystemExit(main())

"""`python -m mae_desktop` runs the command line (the same as `mae-desktop`)."""

from mae_desktop.cli import main

raise SystemExit(main())

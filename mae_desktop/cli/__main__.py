"""`python -m mae_desktop.cli`: the same as `mae-desktop`."""

from mae_desktop.cli import main

raise SystemExit(main())

from __future__ import annotations

import sys

from certspec.cli import main

sys.exit(main())

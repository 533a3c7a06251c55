"""`python -m workers.local.sample --out FILE`: write the demo sample as JSON lines."""

import sys

from workers.local.sample.output import main

sys.exit(main())

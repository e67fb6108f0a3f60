"""`python -m keras_nasnet.cli`: the `keras-nasnet` command."""

import sys

from . import main

sys.exit(main())

"""`python -m keras_pix2pix.cli`: the `keras-pix2pix` command."""

import sys

from keras_pix2pix.cli import main

sys.exit(main())

"""python3 -m fdleak report|baseline|check ...: the same command line as the fdleak launcher, with
scripts/python, build/scripts/python or the installed <datadir>/fdleak/python on sys.path, e.g.
as the current directory. Not through PYTHONPATH: the start-up hook beside the package
(sitecustomize.py) takes its directory off sys.path again, as a checked program must not see
it."""

import sys

from .cli import main

sys.exit(main())

import sys

from forms.cli import main

sys.exit(main())

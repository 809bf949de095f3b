import sys

from robustlab.book.runner import main

sys.exit(main())

"""Settings for the API benchmark: the project's own, with the baseline view's URLs added.

The values are copied from `kstack_naguan.settings` (which reads the environment as usual), and
only the URL configuration changes, so the portal is served exactly as in production.
"""

from kstack_naguan import settings as _base

globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

ROOT_URLCONF = "bench.urls"

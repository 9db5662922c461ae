"""The API benchmark's settings without the request-log middleware, to measure its cost."""

from bench import settings as _bench

globals().update({name: value for name, value in vars(_bench).items() if name.isupper()})

MIDDLEWARE = [name for name in _bench.MIDDLEWARE if not name.endswith(".RequestLogMiddleware")]
if len(MIDDLEWARE) == len(_bench.MIDDLEWARE):
    raise RuntimeError("the request-log middleware is no longer in MIDDLEWARE; update bench/")

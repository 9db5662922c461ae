"""Throttles of the login route: failed attempts counted per username and per client address.

These are DRF throttles fed by failures only. A wrong password or an unknown user adds one to
the history of the username (case-folded) and of the client address; once either history holds
as many failures as its rate allows, every login for that username or from that address answers
429 with code 906 and `Retry-After`, even with the right password, until the oldest counted
failure leaves the window. A successful login clears its username's history, never the
address's, so one valid account cannot launder an address's guesses.

Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` under `login_user_failures` and
`login_address_failures` ("5/15m": five failures in fifteen minutes), and wrong old passwords of
a password change per user under `password_change_failures`; they are read on each
request, so a settings override applies at once. The client address is REMOTE_ADDR unless
`NUM_PROXIES` says how many proxies in `X-Forwarded-For` to trust.
"""

import hashlib
import re
from collections.abc import Mapping

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

_RATE = re.compile(r"^(\d+)/(\d*)([smhd])[a-z]*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LoginFailureThrottle(SimpleRateThrottle):
    """Refuse while the failure history of this request's key is full; record failures only."""

    default_rate = None

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope, self.default_rate)

    def parse_rate(self, rate):
        """`"5/15m"` is five per fifteen minutes; DRF's own form `"5/min"` works too."""
        if rate is None:
            return (None, None)
        match = _RATE.match(rate.strip())
        if match is None:
            raise ValueError(f"invalid throttle rate {rate!r}")
        number, multiple, unit = match.groups()
        return int(number), int(multiple or 1) * _UNITS[unit]

    def _history(self, key):
        self.now = self.timer()
        return [stamp for stamp in self.cache.get(key, []) if stamp > self.now - self.duration]

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.history = self._history(self.key)
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return True

    def wait(self):
        # The oldest failure that keeps the history full leaves the window then.
        return max(0.0, self.history[self.num_requests - 1] + self.duration - self.now)

    def record_failure(self, request, view):
        """Add a failed attempt to the history of this request's key."""
        if self.rate is None:
            return
        key = self.get_cache_key(request, view)
        if key is None:
            return
        history = self._history(key)
        history.insert(0, self.now)
        self.cache.set(key, history, self.duration)

    def reset(self, request, view):
        """Forget the failures of this request's key."""
        key = self.get_cache_key(request, view)
        if key is not None:
            self.cache.delete(key)


class LoginUserFailureThrottle(LoginFailureThrottle):
    """Failed logins per username, whoever sends them."""

    scope = "login_user_failures"
    default_rate = "5/15m"

    def get_cache_key(self, request, view):
        data = request.data if isinstance(request.data, Mapping) else {}
        username = data.get("username")
        if not isinstance(username, str) or not username.strip():
            return None
        ident = hashlib.sha256(username.strip().casefold().encode("utf-8")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginAddressFailureThrottle(LoginFailureThrottle):
    """Failed logins per client address, whatever usernames they try."""

    scope = "login_address_failures"
    default_rate = "20/15m"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordChangeFailureThrottle(LoginFailureThrottle):
    """Wrong old passwords given to `users/me/password`, per signed-in user: a stolen access
    token must not become unlimited guesses at the password it could then replace."""

    scope = "password_change_failures"
    default_rate = "5/15m"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}

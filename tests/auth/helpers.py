"""An Authenticator for in-process protocol tests: the real rules, answered without the failure delays."""

from __future__ import annotations

from pillarbox.auth.authenticator import Authenticator
from pillarbox.auth.login_cache import LoginCache
from pillarbox.auth.passwords import CHEAP, PasswordHashing
from pillarbox.auth.throttle import LoginThrottle, ThrottleSettings
from pillarbox.store.api import Store

FAST = ThrottleSettings(max_ip_failures=1000, failure_delay=0.0, max_failure_delay=0.0, account_delay=0.0,
                        max_account_delay=0.0)


def fast_authenticator(store: Store, settings: ThrottleSettings = FAST) -> Authenticator:
    return Authenticator(store, LoginThrottle(store, settings), PasswordHashing(CHEAP), LoginCache(900, 100))

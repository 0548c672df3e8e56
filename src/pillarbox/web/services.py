"""What the web face is given by ``app.py``: the store, the authenticator, the admin operations (as
data: ``admin/registry.py``, which sits above ``web/``), and the ports really served."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pillarbox.auth.authenticator import Authenticator
from pillarbox.config import Config
from pillarbox.store.api import WebStore


class ParamLike(Protocol):
    name: str
    type: str
    where: str
    required: bool
    nullable: bool
    description: str


class OperationLike(Protocol):
    """``admin.registry.Operation``."""

    name: str
    method: str
    path: str
    summary: str
    params: tuple[ParamLike, ...]
    scope: str
    run: Callable[..., Awaitable[Any]]

    @property
    def changes(self) -> bool: ...


@dataclass
class WebServices:
    config: Config
    store: WebStore
    authenticator: Authenticator
    operations: Sequence[OperationLike]
    context: Any
    """What every operation runs with (``admin.registry.Context``)."""
    healthcheck: Callable[[], Awaitable[bool]]
    metrics: Callable[[], str]
    ports: Mapping[str, int]
    """The listeners really served: name → port (the first bound), for autoconfig and the records."""
    status: Callable[[], Awaitable[dict[str, Any]]] | None = None
    """Extra dashboard facts (certificate expiry, disk use), when the server knows them."""
    clock: Callable[[], float] = time.time
    by_name: dict[str, OperationLike] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {operation.name: operation for operation in self.operations}

    async def run(self, operation: str, /, **params: Any) -> Any:
        """Run an admin operation by name (the pages' way in; the API goes through ``web/api.py``)."""
        return await self.by_name[operation].run(self.context, **params)

"""Base class of the per-service clients: a base path over a shared :class:`PlatformClient`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow_provider_aep.client._records import CreatedResource
from airflow_provider_aep.client.auth import TOKENS, IMSAuth, TokenCache
from airflow_provider_aep.client.errors import AEPNotFoundError, Redactor, service_from_url
from airflow_provider_aep.client.http import RequestOptions, RetryPolicy, resolve_url
from airflow_provider_aep.client.platform import PlatformClient
from airflow_provider_aep.ownership import owner_of

if TYPE_CHECKING:
    import requests
    from typing_extensions import Unpack

    from airflow_provider_aep.client.config import AEPSettings

_S = TypeVar("_S", bound="ServiceClient")
log = logging.getLogger("airflow_provider_aep.client")


def committed_create(found: list[dict[str, Any]], description: str | None) -> dict[str, Any] | None:
    """Among resources found with a natural key after a create went unanswered, the one that create made.

    With an owner line in the created body (``description``), only a resource with an owner line of the same DAG
    run counts: another run's resource with the same key, made meanwhile, is not this create's, and taking it
    would leave this create, committed later, as a duplicate nobody deletes. Without one, the oldest.
    """
    mine = owner_of({"description": description})
    if mine is not None:
        found = [item for item in found if mine.same_run(owner_of(item))]
    return found[0] if found else None


def by_age(found: list[dict[str, Any]], created_field: str) -> list[dict[str, Any]]:
    """``found`` oldest first: the first is the one every DAG run picks among several with one natural key.

    A stable sort, so ties (two creates committed in the same millisecond) keep the server's list order, which
    is the order it committed them in, rather than breaking on the id: the run whose create committed first may
    have listed the key before the second one existed, and it keeps its own, so the run that sees both must pick
    it too.
    """
    return sorted(found, key=lambda item: item.get(created_field) or 0)


class ServiceClient:
    """One AEP service (``base_path``) reached through a :class:`PlatformClient`.

    Built from a ``PlatformClient`` it shares that client's session, token and redactor; built from
    :class:`AEPSettings` (and the ``PlatformClient`` keyword arguments) it makes and owns its own, for code
    that needs one service only (``FlowServiceClient(settings, retry=...)``). ``close()`` only closes an owned
    platform client.

    :param platform: the shared Platform client, or the settings to build an owned one from.
    :param retry: the owned client's retry policy (only with settings).
    :param session: the owned client's ``requests`` session (only with settings).
    :param on_secret: sees every secret the owned client learns (only with settings).
    :param token_cache: where the owned client keeps IMS tokens (only with settings).
    """

    base_path: ClassVar[str]

    def __init__(
        self,
        platform: PlatformClient | AEPSettings,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        on_secret: Callable[[str], None] | None = None,
        token_cache: TokenCache = TOKENS,
    ) -> None:
        if isinstance(platform, PlatformClient):
            if retry is not None or session is not None or on_secret is not None or token_cache is not TOKENS:
                raise TypeError("pass retry/session/on_secret/token_cache to the PlatformClient, not the service")
            self.platform = platform
            self._owns_platform = False
        else:
            self.platform = PlatformClient(
                platform, retry=retry, session=session, on_secret=on_secret, token_cache=token_cache
            )
            self._owns_platform = True

    # ------------------------------------------------------------------ the platform client's parts
    @property
    def service(self) -> str:
        """The service's name in errors (``flowservice``, ``schemaregistry``, ``catalog``, ``conversion``)."""
        return service_from_url(self.base_path) or self.base_path

    @property
    def settings(self) -> AEPSettings:
        return self.platform.settings

    @property
    def redact(self) -> Redactor:
        return self.platform.redact

    @property
    def retry(self) -> RetryPolicy:
        return self.platform.retry

    @property
    def session(self) -> requests.Session:
        return self.platform.session

    @property
    def auth(self) -> IMSAuth:
        return self.platform.auth

    def add_secret(self, value: str | None) -> None:
        self.platform.add_secret(value)

    def close(self) -> None:
        if self._owns_platform:
            self.platform.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def url(self, path: str) -> str:
        """Absolute URL of a path relative to this service (or of a link; see :func:`resolve_url`)."""
        return resolve_url(self.settings, path, base_path=self.base_path)

    def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> requests.Response:
        """:meth:`PlatformClient.request` with ``path`` relative to ``base_path`` (or an absolute link)."""
        return self.platform.request(method, self.url(path), **options)

    def delete_path(self, path: str, *, missing_ok: bool = True) -> bool:
        """DELETE ``path``; True when deleted (also when a retry's 404 followed an ambiguous first attempt,
        which most likely deleted it), False when it was already gone (404) and ``missing_ok``."""
        try:
            self.platform.delete(self.url(path))
        except AEPNotFoundError:
            if not missing_ok:
                raise
            return False
        return True

    def json(self, resp: requests.Response) -> Any:
        return self.platform.json(resp)

    def converge(
        self,
        made: CreatedResource,
        same_key: Callable[[], list[dict[str, Any]]],
        *,
        what: str,
        created_field: str,
        delete: Callable[[str], Any] | None,
        description: str | None = None,
    ) -> CreatedResource:
        """After a create, the one resource every DAG run agrees on for its natural key.

        Two DAG runs that look a key up at the same moment both find nothing and both create; a create committed
        late (after its answer was lost) does the same. So a create lists the key again: when more than one
        resource answers it, the winner is the oldest (``created_field``; ties in the server's order, see
        :func:`by_age`), which every run computes alike. A loser this call made is deleted (``delete``; where
        the service has no DELETE, e.g. Data Prep mapping sets, it is left and logged), with the other
        leftovers :meth:`settle` removes, and the winner is returned as reused (``created=False``), so the
        caller verifies it as any reused resource. ``description`` is the created body's (its owner line).
        """
        if not made.created:
            return made
        found = same_key()
        if len(found) < 2:
            return made
        winner = self.settle(found, what=what, created_field=created_field, delete=delete, description=description)
        if winner.get("id") == made.id:
            return made
        if delete is None:
            log.warning(
                "%s %s duplicates %s, which it cannot delete; using %s", what, made.id, winner["id"], winner["id"]
            )
        else:
            if owner_of({"description": description}) is None:  # with our owner line, settle() deleted it
                delete(made.id)
            log.warning(
                "%s %s lost a race to %s, the oldest with the same key: deleted it", what, made.id, winner["id"]
            )
        return CreatedResource.from_resource(winner, created=False)

    def settle(
        self,
        found: list[dict[str, Any]],
        *,
        what: str,
        created_field: str,
        delete: Callable[[str], Any] | None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """The winner among resources with one natural key (:func:`by_age`), deleting the leftovers of lost answers.

        A duplicate that carries the winner's own owner line was made by the same task of the same DAG run, whose
        answer was lost and whose retry (or the same try, after the reconciliation window) made the winner: nobody
        uses it, since every run takes the winner. One that carries the owner line of this call's DAG run
        (``description``, the body it would send) is this run's own leftover. Both are deleted (when the service
        can delete); a duplicate another DAG run made is left to that run, which converges on the same winner.
        """
        ordered = by_age(found, created_field)
        winner = ordered[0]
        if delete is None or len(ordered) < 2:
            return winner
        mine, winners_owner = owner_of({"description": description}), owner_of(winner)
        for loser in ordered[1:]:
            owner = owner_of(loser)
            if owner is not None and (owner == winners_owner or (mine is not None and mine.same_run(owner))):
                delete(str(loser["id"]))
                log.warning(
                    "Deleted %s %s, a leftover duplicate of %s made by %s", what, loser["id"], winner["id"], owner
                )
        return winner

    def not_found(self, message: str, *, path: str) -> AEPNotFoundError:
        """A 404-class error for something a 2xx answer showed to be missing (empty envelope, ``[]``)."""
        return AEPNotFoundError(status=404, code=None, message=message, url=self.url(path), service=self.service)


__all__ = ["ServiceClient"]

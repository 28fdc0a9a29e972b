"""The providers' own REST APIs, as far as `bridge register` and `bridge backfill` need them:
create, show and delete the webhook on the provider's side, and list what it sent. Plain
requests; the base URL is configurable so tests talk to a local stand-in of the documented
shapes.

    GitHub  POST {base}/repos/{owner}/{repo}/hooks   JSON, Authorization: Bearer $GITHUB_TOKEN
            https://docs.github.com/en/rest/repos/webhooks#create-a-repository-webhook
    Stripe  POST {base}/v1/webhook_endpoints         form, Authorization: Bearer $STRIPE_API_KEY
            DELETE {base}/v1/webhook_endpoints/{id}
            https://docs.stripe.com/api/webhook_endpoints/create (the answer carries `secret`)
    GitHub  GET/DELETE {base}/repos/{owner}/{repo}/hooks/{id}
            GET {base}/repos/{owner}/{repo}/hooks/{id}/deliveries[/{delivery_id}]
    Stripe  GET {base}/v1/webhook_endpoints/{id}, GET {base}/v1/events

A refusal becomes a CliError with the provider's own message on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests

from bridge import __version__
from bridge.client import HTTP_TIMEOUT, CliError, response_json
from bridge.config import ClientSettings

USER_AGENT = f"webhook-bridge/{__version__}"
GITHUB_API_VERSION = "2022-11-28"

# What each provider's refusal most likely means, by status.
_GITHUB_HINTS = {
    401: "check GITHUB_TOKEN",
    403: "the token needs admin:repo_hook (classic) or Webhooks: read and write (fine-grained)",
    404: "no such repository, or GITHUB_TOKEN may not see it or manage its hooks",
}
_STRIPE_HINTS = {401: "check STRIPE_API_KEY", 403: "the key may not manage webhook endpoints"}


def github_token(settings: ClientSettings) -> str:
    """The GitHub token the CLI was given, or an error saying which one it needs."""
    if not settings.github_token:
        raise CliError(
            "GITHUB_TOKEN is not set: a token that may manage the repository's webhooks "
            "(classic: admin:repo_hook; fine-grained: Webhooks read and write)"
        )
    return settings.github_token


def stripe_key(settings: ClientSettings) -> str:
    """The Stripe secret key the CLI was given, or an error saying so."""
    if not settings.stripe_api_key:
        raise CliError("STRIPE_API_KEY is not set: a secret key (sk_...) of the Stripe account")
    return settings.stripe_api_key


def _request(name: str, method: str, url: str, **kwargs: Any) -> requests.Response:
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    try:
        return requests.request(
            method, url, headers=headers, timeout=HTTP_TIMEOUT, allow_redirects=False, **kwargs
        )
    except requests.ConnectionError:
        raise CliError(f"cannot reach {name} at {url}") from None
    except requests.Timeout:
        raise CliError(f"{name} did not answer within {HTTP_TIMEOUT[1]:.0f} s ({url})") from None
    except requests.RequestException as exc:
        raise CliError(f"{method} {url} failed: {exc}") from None


def _json(name: str, response: requests.Response) -> dict[str, Any]:
    try:
        data = response_json(response)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CliError(
            f"{name} answered HTTP {response.status_code} with something that is not a JSON "
            f"object ({response.url}): is the API base URL right?"
        )
    return data


def _github(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": GITHUB_API_VERSION,
    }


def _hooks_url(base: str, repo: str, tail: str = "") -> str:
    owner, _, name = repo.partition("/")
    return f"{base.rstrip('/')}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/hooks{tail}"


def _github_refusal(response: requests.Response, doing: str) -> CliError:
    data = _json("GitHub", response)
    message = str(data.get("message") or "no message")
    details = [
        str(e.get("message") or f"{e.get('field')} {e.get('code')}")
        for e in data.get("errors") or []
        if isinstance(e, dict)
    ]
    text = ": ".join([message, *details])
    hint = _GITHUB_HINTS.get(response.status_code)
    return CliError(
        f"GitHub refused to {doing} (HTTP {response.status_code}): {text}"
        + (f" ({hint})" if hint else "")
    )


def create_github_hook(
    base: str, token: str, repo: str, url: str, secret: str, events: Sequence[str]
) -> dict[str, Any]:
    """Create a repository webhook delivering JSON to `url`, signed with `secret`."""
    response = _request(
        "GitHub",
        "POST",
        _hooks_url(base, repo),
        headers=_github(token),
        json={
            "name": "web",
            "active": True,
            "events": list(events),
            "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
        },
    )
    data = _json("GitHub", response)
    if response.status_code != 201:
        raise _github_refusal(response, f"create the webhook on {repo}")
    return data


def github_hook(base: str, token: str, repo: str, hook_id: str) -> dict[str, Any] | None:
    """The hook, or None when GitHub no longer has it."""
    response = _request(
        "GitHub", "GET", _hooks_url(base, repo, f"/{quote(hook_id, safe='')}"),
        headers=_github(token),
    )  # fmt: skip
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise _github_refusal(response, f"show webhook {hook_id} of {repo}")
    return _json("GitHub", response)


def delete_github_hook(base: str, token: str, repo: str, hook_id: str) -> bool:
    """Delete the hook; False when GitHub had no such hook (any more)."""
    response = _request(
        "GitHub", "DELETE", _hooks_url(base, repo, f"/{quote(hook_id, safe='')}"),
        headers=_github(token),
    )  # fmt: skip
    if response.status_code == 404:
        return False
    if response.status_code != 204:
        raise _github_refusal(response, f"delete webhook {hook_id} of {repo}")
    return True


def github_deliveries(
    base: str, token: str, repo: str, hook_id: str, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the hook's deliveries, newest first, and the cursor of the next page
    (from the `Link: <...>; rel="next"` header), None on the last page.
    https://docs.github.com/en/rest/repos/webhooks#list-deliveries-for-a-repository-webhook"""
    params = {"per_page": "100", **({"cursor": cursor} if cursor else {})}
    response = _request(
        "GitHub", "GET", _hooks_url(base, repo, f"/{quote(hook_id, safe='')}/deliveries"),
        headers=_github(token), params=params,
    )  # fmt: skip
    if response.status_code != 200:
        raise _github_refusal(response, f"list the deliveries of webhook {hook_id} on {repo}")
    try:
        page = response_json(response)
    except ValueError:
        page = None
    if not isinstance(page, list) or not all(isinstance(d, dict) for d in page):
        raise CliError(f"GitHub's list of deliveries is not a JSON list ({response.url})")
    following = response.links.get("next", {}).get("url")
    after = parse_qs(urlsplit(following).query).get("cursor", [None])[0] if following else None
    return page, after


def github_delivery(
    base: str, token: str, repo: str, hook_id: str, delivery_id: str
) -> dict[str, Any]:
    """One delivery with its `request.headers` and `request.payload`."""
    tail = f"/{quote(hook_id, safe='')}/deliveries/{quote(delivery_id, safe='')}"
    response = _request("GitHub", "GET", _hooks_url(base, repo, tail), headers=_github(token))
    if response.status_code != 200:
        raise _github_refusal(response, f"show delivery {delivery_id} of webhook {hook_id}")
    return _json("GitHub", response)


def _stripe_refusal(response: requests.Response, doing: str) -> CliError:
    error = _json("Stripe", response).get("error")
    message = str(error.get("message")) if isinstance(error, dict) else "no message"
    hint = _STRIPE_HINTS.get(response.status_code)
    return CliError(
        f"Stripe refused to {doing} (HTTP {response.status_code}): {message}"
        + (f" ({hint})" if hint else "")
    )


def _stripe(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_stripe_endpoint(
    base: str, key: str, url: str, events: Sequence[str], description: str
) -> dict[str, Any]:
    """Create a webhook endpoint for `url`; the answer's `secret` is its signing secret."""
    form = [("url", url), *(("enabled_events[]", e) for e in events)]
    form.append(("description", description))
    response = _request(
        "Stripe",
        "POST",
        f"{base.rstrip('/')}/v1/webhook_endpoints",
        headers=_stripe(key),
        data=form,
    )
    if response.status_code != 200:
        raise _stripe_refusal(response, "create the webhook endpoint")
    data = _json("Stripe", response)
    if not isinstance(data.get("secret"), str) or not isinstance(data.get("id"), str):
        raise CliError("Stripe's answer carries no webhook endpoint id and secret")
    return data


def _stripe_endpoint_call(
    method: str, base: str, key: str, endpoint_id: str, doing: str
) -> requests.Response | None:
    """One call on a webhook endpoint; None when Stripe has no such endpoint (any more)."""
    response = _request(
        "Stripe",
        method,
        f"{base.rstrip('/')}/v1/webhook_endpoints/{quote(endpoint_id, safe='')}",
        headers=_stripe(key),
    )
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise _stripe_refusal(response, f"{doing} {endpoint_id}")
    return response


def delete_stripe_endpoint(base: str, key: str, endpoint_id: str) -> bool:
    """Delete the webhook endpoint; False when Stripe had no such endpoint (any more)."""
    return _stripe_endpoint_call("DELETE", base, key, endpoint_id, "delete") is not None


def stripe_endpoint(base: str, key: str, endpoint_id: str) -> dict[str, Any] | None:
    """The webhook endpoint, or None when Stripe no longer has it."""
    response = _stripe_endpoint_call("GET", base, key, endpoint_id, "show")
    return None if response is None else _json("Stripe", response)


def stripe_events(
    base: str, key: str, since: int, until: int | None, starting_after: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the account's events created in [since, until], newest first, and
    `has_more`. https://docs.stripe.com/api/events/list"""
    params = {"created[gte]": str(since), "limit": "100"}
    if until is not None:
        params["created[lte]"] = str(until)
    if starting_after:
        params["starting_after"] = starting_after
    response = _request(
        "Stripe", "GET", f"{base.rstrip('/')}/v1/events", headers=_stripe(key), params=params
    )
    if response.status_code != 200:
        raise _stripe_refusal(response, "list events")
    page = _json("Stripe", response)
    data = page.get("data")
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise CliError(f"Stripe's list of events has no `data` list ({response.url})")
    return data, page.get("has_more") is True

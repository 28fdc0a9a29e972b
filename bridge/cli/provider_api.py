"""The providers' own REST APIs, as far as `bridge register` needs them: create (and, to undo,
delete) the webhook on the provider's side. Plain requests; the base URL is configurable so
tests talk to a local stand-in of the documented shapes.

    GitHub  POST {base}/repos/{owner}/{repo}/hooks   JSON, Authorization: Bearer $GITHUB_TOKEN
            https://docs.github.com/en/rest/repos/webhooks#create-a-repository-webhook
    Stripe  POST {base}/v1/webhook_endpoints         form, Authorization: Bearer $STRIPE_API_KEY
            DELETE {base}/v1/webhook_endpoints/{id}
            https://docs.stripe.com/api/webhook_endpoints/create (the answer carries `secret`)

A refusal becomes a CliError with the provider's own message on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import requests

from bridge import __version__
from bridge.client import HTTP_TIMEOUT, CliError

USER_AGENT = f"webhook-bridge/{__version__}"
GITHUB_API_VERSION = "2022-11-28"

# What each provider's refusal most likely means, by status.
_GITHUB_HINTS = {
    401: "check GITHUB_TOKEN",
    403: "the token needs admin:repo_hook (classic) or Webhooks: read and write (fine-grained)",
    404: "no such repository, or GITHUB_TOKEN may not see it or manage its hooks",
}
_STRIPE_HINTS = {401: "check STRIPE_API_KEY", 403: "the key may not manage webhook endpoints"}


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
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CliError(
            f"{name} answered HTTP {response.status_code} with something that is not a JSON "
            f"object ({response.url}): is the API base URL right?"
        )
    return data


def create_github_hook(
    base: str, token: str, repo: str, url: str, secret: str, events: Sequence[str]
) -> dict[str, Any]:
    """Create a repository webhook delivering JSON to `url`, signed with `secret`."""
    owner, _, name = repo.partition("/")
    endpoint = f"{base.rstrip('/')}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/hooks"
    response = _request(
        "GitHub",
        "POST",
        endpoint,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": GITHUB_API_VERSION,
        },
        json={
            "name": "web",
            "active": True,
            "events": list(events),
            "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
        },
    )
    data = _json("GitHub", response)
    if response.status_code != 201:
        message = str(data.get("message") or "no message")
        details = [
            str(e.get("message") or f"{e.get('field')} {e.get('code')}")
            for e in data.get("errors") or []
            if isinstance(e, dict)
        ]
        text = ": ".join([message, *details])
        hint = _GITHUB_HINTS.get(response.status_code)
        raise CliError(
            f"GitHub refused to create the webhook on {repo} (HTTP {response.status_code}): "
            f"{text}" + (f" ({hint})" if hint else "")
        )
    return data


def _stripe_refusal(response: requests.Response, doing: str) -> CliError:
    error = _json("Stripe", response).get("error")
    message = str(error.get("message")) if isinstance(error, dict) else "no message"
    hint = _STRIPE_HINTS.get(response.status_code)
    return CliError(
        f"Stripe refused to {doing} (HTTP {response.status_code}): {message}"
        + (f" ({hint})" if hint else "")
    )


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
        headers={"Authorization": f"Bearer {key}"},
        data=form,
    )
    if response.status_code != 200:
        raise _stripe_refusal(response, "create the webhook endpoint")
    data = _json("Stripe", response)
    if not isinstance(data.get("secret"), str) or not isinstance(data.get("id"), str):
        raise CliError("Stripe's answer carries no webhook endpoint id and secret")
    return data


def delete_stripe_endpoint(base: str, key: str, endpoint_id: str) -> None:
    response = _request(
        "Stripe",
        "DELETE",
        f"{base.rstrip('/')}/v1/webhook_endpoints/{quote(endpoint_id, safe='')}",
        headers={"Authorization": f"Bearer {key}"},
    )
    if response.status_code != 200:
        raise _stripe_refusal(response, f"delete {endpoint_id}")

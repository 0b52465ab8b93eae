"""A pod of a Kubernetes Indexed Job read without TensorFlow: its worker index and every worker's address.

An Indexed Job (``completionMode: Indexed``, ``completions`` = ``parallelism`` = N) runs N pods,
numbered 0 .. N-1 by Kubernetes in ``JOB_COMPLETION_INDEX``; pod 0 is the chief, the only one that
locks and writes the run directory. A pod is named ``<job name>-<index>`` and, with a headless
Service named in the pod template's ``subdomain``, reachable at ``<job name>-<index>.<service>``
(a JobSet's pods at ``<jobset>-<replicated job>-<job index>-<index>.<subdomain>``). Kubernetes tells a
pod neither N nor those names, so the manifest sets them:

* ``SAGAN_WORKERS``: N, the Job's ``completions`` (and ``parallelism``).
* ``SAGAN_WORKER_HOSTS``: where the workers listen, ``host[:port]``: a pattern in which ``{index}``
  stands for the worker's index (``sagan-train-{index}.sagan-train:2222``), or a comma-separated list
  of the N addresses in index order. A host without a port listens at 2222 (``DEFAULT_PORT``).

Everything is checked before TensorFlow starts, each a ``ConfigError`` of one line: a variable
missing or not a number, an index that is not one of the N workers, a list of another length, a
malformed or repeated address, and (``check_own_host``) a pattern that does not name this pod.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping

from sagan_tf.errors import ConfigError

INDEX = "JOB_COMPLETION_INDEX"  # set by Kubernetes in every pod of an Indexed Job
WORKERS = "SAGAN_WORKERS"
HOSTS = "SAGAN_WORKER_HOSTS"
PLACEHOLDER = "{index}"
DEFAULT_PORT = 2222  # the port Kubeflow's TFJob and Vertex AI give TensorFlow workers

_NEEDS = {
    INDEX: "which Kubernetes sets in the pods of an Indexed Job (completionMode: Indexed)",
    WORKERS: "the number of workers, the Job's completions",
    HOSTS: "the workers' host[:port], a pattern with {index} such as <job>-{index}.<service>",
}


@dataclasses.dataclass(frozen=True)
class Pod:
    """This pod's ``index`` (0 .. N-1) and the ``host:port`` of each of the N ``workers``."""

    index: int
    workers: tuple[str, ...]

    @property
    def address(self) -> str:
        return self.workers[self.index]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def tf_config(self) -> dict:
        """The ``TF_CONFIG`` of this worker: N workers, worker 0 the chief (no ``chief`` task)."""
        return {"cluster": {"worker": list(self.workers)}, "task": {"type": "worker", "index": self.index}}


def _whole_number(environ: Mapping[str, str], name: str) -> int:
    raw = environ[name].strip()
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"--cluster kubernetes: {name}={raw!r} is not a whole number") from None


def _address(entry: str, where: str) -> str:
    """``host:port`` of one worker (``host`` alone: ``DEFAULT_PORT``)."""
    entry = entry.strip()
    host, sep, port = entry.rpartition(":")
    if not sep:
        host, port = entry, str(DEFAULT_PORT)
    valid = bool(host) and not any(c in host for c in "{}/, ") and port.isdigit() and 0 < int(port) < 65536
    if not valid:
        raise ConfigError(f"--cluster kubernetes: {HOSTS} gives {where} the address {entry!r}; expected host[:port]")
    return f"{host}:{int(port)}"


def worker_addresses(hosts: str, workers: int) -> tuple[str, ...]:
    """The ``host:port`` of each of ``workers`` workers, from ``SAGAN_WORKER_HOSTS``."""
    if PLACEHOLDER in hosts:
        entries = [hosts.replace(PLACEHOLDER, str(i)) for i in range(workers)]
    else:
        entries = hosts.split(",")
        if len(entries) != workers:
            raise ConfigError(
                f"--cluster kubernetes: {HOSTS} lists {len(entries)} address(es) but {WORKERS}={workers}: "
                f"list one per worker, or give a pattern with {PLACEHOLDER}"
            )
    addresses = tuple(_address(entry, f"worker {i}") for i, entry in enumerate(entries))
    for i, address in enumerate(addresses):
        if address in addresses[:i]:
            raise ConfigError(
                f"--cluster kubernetes: {HOSTS} gives workers {addresses.index(address)} and {i} the same address {address}"
            )
    return addresses


def read_pod(environ: Mapping[str, str]) -> Pod:
    """The worker ``environ`` describes; a ``ConfigError`` naming the first thing that is wrong."""
    missing = [name for name in (INDEX, WORKERS, HOSTS) if not environ.get(name, "").strip()]
    if missing:
        needs = "; ".join(f"{name}, {_NEEDS[name]}" for name in missing)
        raise ConfigError(f"--cluster kubernetes needs {needs} (not set in this pod)")
    index, workers = _whole_number(environ, INDEX), _whole_number(environ, WORKERS)
    if workers < 1:
        raise ConfigError(f"--cluster kubernetes: {WORKERS}={workers}; it must be the Job's completions, 1 or more")
    if not 0 <= index < workers:
        raise ConfigError(
            f"--cluster kubernetes: {INDEX}={index} is not a worker of {WORKERS}={workers}: "
            f"set {WORKERS} to the Job's completions (and parallelism)"
        )
    return Pod(index=index, workers=worker_addresses(environ[HOSTS], workers))


def _is_ip_or_localhost(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_own_host(pod: Pod, hostname: str) -> None:
    """The pod's own address names this pod: its host's first label is ``hostname``'s (the pod's
    name in an Indexed Job). Addresses given as IP addresses (or ``localhost``) are taken as they are."""
    host = pod.address.rsplit(":", 1)[0]
    if _is_ip_or_localhost(host):
        return
    mine, named = hostname.split(".", 1)[0].lower(), host.split(".", 1)[0].lower()
    if mine != named:
        raise ConfigError(
            f"--cluster kubernetes: {HOSTS} puts worker {pod.index} at {pod.address}, but this pod's hostname is "
            f"{hostname}: the pattern must name the Job's pods, <job name>-{PLACEHOLDER}.<service>"
        )


def is_chief(environ: Mapping[str, str]) -> bool:
    """Worker 0 is the chief."""
    return read_pod(environ).index == 0

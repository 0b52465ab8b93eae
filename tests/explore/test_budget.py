"""The image budget of sagan-explore: at most ``capacity`` images held at once by any mix of
holders, first come first served, a bounded wait then ``Busy``, requests larger than the whole
budget served alone, and no deadlock under a random concurrent load."""

import random
import threading
import time

import pytest

from sagan_tf.explore.budget import Busy, ImageBudget
from sagan_tf.explore.limits import Limits


def test_a_hold_takes_min_of_its_images_and_the_capacity_and_gives_them_back():
    budget = ImageBudget(8, wait_seconds=0.1)
    with budget.hold(3) as slots:
        assert slots == 3 and budget.in_flight == 3
        with budget.hold(5) as more:
            assert more == 5 and budget.in_flight == 8
    assert budget.in_flight == 0
    with budget.hold(500) as slots:  # larger than the budget: served, holding all of it
        assert slots == 8 and budget.in_flight == 8
    with budget.hold(0) as slots:  # every request holds at least one slot
        assert slots == 1
    with pytest.raises(RuntimeError), budget.hold(4):
        raise RuntimeError("a failed request")
    assert budget.in_flight == 0 and budget.waiting == 0


def test_a_request_that_does_not_fit_waits_its_time_then_is_refused_holding_nothing():
    budget = ImageBudget(4, wait_seconds=0.3)
    with budget.hold(3):
        start = time.monotonic()
        with pytest.raises(Busy, match=r"busy: 2 more images did not fit beside the 3 .* \(at most 4 at once\) within 0.3 s"), budget.hold(2):
            pass
        assert time.monotonic() - start >= 0.3  # its whole wait (a loaded machine only makes it longer)
        assert budget.in_flight == 3 and budget.waiting == 0
        with budget.hold(1):  # what fits is served at once
            assert budget.in_flight == 4
    assert budget.in_flight == 0


def test_a_waiting_request_is_served_as_soon_as_capacity_returns():
    budget = ImageBudget(4, wait_seconds=600.0)  # events, not the clock, decide: the wait never runs out here
    got, released = [], threading.Event()

    def waiter():
        with budget.hold(4) as slots:
            got.append((slots, released.is_set(), budget.in_flight))

    with budget.hold(4):
        thread = threading.Thread(target=waiter)
        thread.start()
        assert _until(lambda: budget.waiting == 1) and not got
        released.set()
    thread.join(600)
    assert got == [(4, True, 4)]  # served, after the release, with the slots it gave back


def test_waiters_are_served_in_arrival_order_even_when_a_later_one_would_fit():
    budget = ImageBudget(4, wait_seconds=5.0)
    order = []

    def request(name, images):
        with budget.hold(images):
            order.append(name)

    with budget.hold(3):
        big = threading.Thread(target=request, args=("big", 4))
        big.start()
        assert _until(lambda: budget.waiting == 1)
        small = threading.Thread(target=request, args=("small", 1))  # one slot is free, but "big" came first
        small.start()
        assert _until(lambda: budget.waiting == 2)
        time.sleep(0.1)
        assert order == []
    big.join(5)
    small.join(5)
    assert order == ["big", "small"]


def test_a_refused_waiter_lets_the_next_one_in():
    budget = ImageBudget(4, wait_seconds=5.0)
    outcome = {}

    def request(name, images, wait):
        try:
            with budget.hold(images, wait):
                outcome[name] = "served"
        except Busy:
            outcome[name] = "busy"

    with budget.hold(3):
        first = threading.Thread(target=request, args=("first", 4, 0.3))  # gives up after 0.3 s
        first.start()
        assert _until(lambda: budget.waiting == 1)
        second = threading.Thread(target=request, args=("second", 1, 5.0))
        second.start()
        first.join(5)
        second.join(5)
    assert outcome == {"first": "busy", "second": "served"}


def test_random_concurrent_holds_never_exceed_the_capacity_and_all_finish():
    budget = ImageBudget(10, wait_seconds=0.05)
    lock, peak, counts = threading.Lock(), [0], {"served": 0, "busy": 0}
    current = [0]

    def worker(seed):
        rng = random.Random(seed)
        for _ in range(40):
            try:
                with budget.hold(rng.choice([1, 2, 5, 10, 300])) as slots:
                    with lock:
                        current[0] += slots
                        peak[0] = max(peak[0], current[0])
                    time.sleep(rng.uniform(0, 0.003))
                    with lock:
                        current[0] -= slots
                with lock:
                    counts["served"] += 1
            except Busy:
                with lock:
                    counts["busy"] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a holder never finished: deadlock"
    assert counts["served"] + counts["busy"] == 16 * 40 and counts["served"] > 0
    assert 1 <= peak[0] <= 10
    assert budget.in_flight == 0 and budget.waiting == 0


def test_limits_refuse_nonsense_and_give_retry_after_in_whole_seconds():
    assert Limits().as_json() == {"max_images": 64, "batch": 16, "wait_seconds": 2.0, "max_connections": 64}
    assert Limits(wait_seconds=2.0).retry_after == 2 and Limits(wait_seconds=0.2).retry_after == 1
    for bad in ({"max_images": 0}, {"batch": 0}, {"max_connections": -1}, {"wait_seconds": float("nan")},
                {"wait_seconds": -1.0}):
        with pytest.raises(ValueError):
            Limits(**bad)


def _until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False

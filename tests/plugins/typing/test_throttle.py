"""The typing throttle with the shipped numbers (2 s between pushes, 5 s expiry), driven with explicit times."""

from plugins.typing.throttle import Typist

INTERVAL, EXPIRY = 2.0, 5.0


def run(events: list[tuple[float, bool]], until: float) -> list[tuple[float, bool]]:
    """Feed (time, typing) inputs, follow the checks the typist asks for; the pushes with their times."""
    typist, pushes, wake = Typist("ann"), [], None
    inputs = list(events)
    while True:
        next_input = inputs[0][0] if inputs else None
        if next_input is None and wake is None:
            return pushes
        if wake is not None and (next_input is None or wake < next_input):
            now, wake = wake, None
        else:
            now, typing = inputs.pop(0)
            typist.says(typing, now, EXPIRY)
        if now > until:
            return pushes
        value, wait = typist.next_step(now, INTERVAL)
        if value is not None:
            pushes.append((now, value))
        wake = None if wait is None else now + wait


def test_first_true_goes_out_at_once_and_expires_after_5s():
    assert run([(10.0, True)], until=60) == [(10.0, True), (15.0, False)]


def test_false_goes_out_but_not_before_2s_after_the_last_push():
    assert run([(0.0, True), (0.5, False)], until=60) == [(0.0, True), (2.0, False)]


def test_a_client_sending_true_every_100ms_for_10s_gets_one_push_per_2s():
    spam = [(n / 10, True) for n in range(100)]  # 0.0 .. 9.9
    pushes = run(spam, until=60)
    times = [t for t, _ in pushes]
    assert all(b - a >= INTERVAL for a, b in zip(times, times[1:]))
    # true at 0, refreshed every 2 s while it keeps coming, false 5 s after the last one (9.9 s)
    assert pushes == [(0.0, True), (2.0, True), (4.0, True), (6.0, True), (8.0, True), (10.0, True),
                      (14.9, False)]


def test_toggling_as_fast_as_possible_is_capped_and_ends_in_the_last_state():
    toggles = [(n / 100, n % 2 == 0) for n in range(301)]  # true, false, ... 3 s, ends on true
    pushes = run(toggles, until=60)
    times = [t for t, _ in pushes]
    assert all(b - a >= INTERVAL for a, b in zip(times, times[1:]))
    assert pushes[0] == (0.0, True)
    assert pushes[-1][1] is False  # the final true expired
    assert len(pushes) <= 1 + 3 / INTERVAL + 2


def test_nothing_is_pushed_for_a_false_when_nothing_was_said():
    assert run([(0.0, False), (3.0, False)], until=60) == []

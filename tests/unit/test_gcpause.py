"""The collector pause: nested and overlapping pauses (wfrun serve loads workflows in threads) end with it on."""

from __future__ import annotations

import gc
import threading

from workflow_runner import gcpause


def test_nested_pauses_turn_the_collector_back_on_once_the_outermost_ends():
    assert gc.isenabled()
    with gcpause.paused():
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_leave_the_collector_on():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with gcpause.paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with gcpause.paused():
            second_in.set()
            first_out.wait(5)  # the first pause ends while this one is still on
            assert not gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert gc.isenabled()


def test_a_pause_begun_with_the_collector_off_leaves_it_off():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

"""The instance state machine, as one explicit table. Pure.

    BUILDING ──▶ RUNNING ⇄ STOPPED          (start / stop)
                  │  ▲
                  ▼  │
                REBOOTING                   (reboot, back to RUNNING)
    any live ──▶ DELETING ──▶ DELETED       (delete; only the agent's confirmation that it
                                             destroyed the guest finishes it, never a MISSING)
    BUILDING/REBOOTING/… ──▶ ERROR          (with a reason the customer can act on)

``UNKNOWN`` is never stored: it is how a live instance is *shown* while its host misses heartbeats.
"""

from __future__ import annotations

from typing import Literal, get_args

from hexagone.errors import Conflict

BUILDING, RUNNING, STOPPED, REBOOTING = "BUILDING", "RUNNING", "STOPPED", "REBOOTING"
DELETING, DELETED, ERROR, UNKNOWN = "DELETING", "DELETED", "ERROR", "UNKNOWN"
STATES = (BUILDING, RUNNING, STOPPED, REBOOTING, DELETING, DELETED, ERROR)
LIVE = frozenset({BUILDING, RUNNING, STOPPED, REBOOTING, ERROR})

#: user action -> {state it may start from: state it moves to}
ACTIONS: dict[str, dict[str, str]] = {
    "start": {STOPPED: RUNNING, RUNNING: RUNNING},
    "stop": {RUNNING: STOPPED, STOPPED: STOPPED, ERROR: STOPPED},
    "reboot": {RUNNING: REBOOTING, REBOOTING: REBOOTING, STOPPED: REBOOTING, ERROR: REBOOTING},
    "delete": {s: DELETING for s in (BUILDING, RUNNING, STOPPED, REBOOTING, ERROR, DELETING)},
}

#: the power states an agent may report (the driver's, plus ERROR: the host could not start it)
ObservedPower = Literal["RUNNING", "STOPPED", "PAUSED", "CRASHED", "MISSING", "ERROR"]
OBSERVED_POWERS: tuple[str, ...] = get_args(ObservedPower)

#: what the agent observed -> {current state: new state}. MISSING moves nothing: a guest absent from
#: a (possibly stale) listing is not a guest destroyed; ``destroyed`` is the agent's confirmation.
OBSERVED: dict[str, dict[str, str]] = {
    "RUNNING": {BUILDING: RUNNING, REBOOTING: RUNNING, ERROR: RUNNING},
    "STOPPED": {RUNNING: STOPPED, REBOOTING: REBOOTING},
    "CRASHED": {RUNNING: ERROR, BUILDING: ERROR, REBOOTING: ERROR},
}

#: the power state the agent must converge to, by (state, desired power)
def desired_power(state: str, requested: str) -> str:
    if state in (DELETING, DELETED):
        return "deleted"
    return requested


def apply_action(state: str, action: str) -> str:
    """The state after a user action, or Conflict with a sentence saying what is possible."""
    moves = ACTIONS.get(action)
    if moves is None:
        raise Conflict(f"Unknown action '{action}'.")
    if state not in moves:
        allowed = ", ".join(sorted(moves))
        raise Conflict(f"Cannot {action} an instance that is {state}; {action} works from: {allowed}.")
    return moves[state]


def apply_observation(state: str, observed: str, desired: str, destroyed: bool = False) -> str:
    """The state after the agent reports ``observed`` power (RUNNING/STOPPED/MISSING/CRASHED);
    ``destroyed``: the agent confirms it destroyed the guest of a deleting instance."""
    if state == DELETING:
        return DELETED if destroyed and observed == "MISSING" else state
    if observed == "RUNNING" and state == STOPPED and desired == "running":
        return RUNNING
    if observed == "STOPPED" and state == RUNNING and desired == "running":
        return RUNNING  # the agent will start it again
    if observed == "STOPPED" and state in (RUNNING, REBOOTING, ERROR, BUILDING) and desired == "stopped":
        return STOPPED
    if observed == "RUNNING" and state == REBOOTING:
        return state  # the agent says when the reboot is done (``rebooted`` flag)
    return OBSERVED.get(observed, {}).get(state, state)


def shown_state(state: str, host_up: bool) -> str:
    """What the API shows: a live instance on a host that stopped answering is UNKNOWN."""
    if not host_up and state in (RUNNING, STOPPED, REBOOTING, BUILDING):
        return UNKNOWN
    return state

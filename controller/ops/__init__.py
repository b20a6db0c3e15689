"""Operations as pure state machines: plans (which steps) and the machine (how a record moves).

Nothing here imports nats, rados or any I/O; `controller.runner` executes the steps.
"""

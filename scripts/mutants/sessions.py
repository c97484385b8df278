"""Sessions apply whole or not at all, for a model of any input size."""

T_SIZES = "tests/app/test_session_sizes.py"
T_TX = "tests/core/test_transaction.py"

MUTANTS = [
    (
        "session-applied-without-a-transaction",
        "mae_desktop/core/sessions.py",
        "    with editor.transaction():\n"
        "        _apply(editor, session, source, info, device, overrides)",
        "    _apply(editor, session, source, info, device, overrides)",
        (T_SIZES,),
    ),
    (
        "session-failure-keeps-the-sessions-model-on-the-worker",
        "mae_desktop/core/live.py",
        "            if info is not None:  # the worker already holds the session's model\n"
        "                self._restore_model()",
        "            pass",
        (T_SIZES,),
    ),
    (
        "transaction-does-not-restore",
        "mae_desktop/core/editor.py",
        "            vars(self).update(saved)",
        "            pass",
        (T_TX,),
    ),
    (
        "held-emits-every-event-twice",
        "mae_desktop/core/events.py",
        "                    e.emit(*_merged(emits))",
        "                    e.emit(*_merged(emits))\n                    e.emit(*_merged(emits))",
        (T_TX,),
    ),
    (
        "held-emits-after-a-failure",
        "mae_desktop/core/events.py",
        "        if not failed:\n            for e, emits in pending:",
        "        if True:\n            for e, emits in pending:",
        (T_TX,),
    ),
]

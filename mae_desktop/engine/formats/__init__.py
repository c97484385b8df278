"""One module per checkpoint format: each maps its files onto `MAEModel` tensor names.

`engine.checkpoints` detects the format and calls the converter; `common` holds what they
share (reading files safely, the tensor bookkeeping, head-count guesses).
"""

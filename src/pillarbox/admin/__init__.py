"""The administration commands behind ``pillarbox``: one module per command family.

``cli`` parses arguments and turns errors into one line; the functions here open nothing themselves.
Each takes an open store (and the parsed arguments) and returns the process exit status.
"""

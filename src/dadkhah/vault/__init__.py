"""The vault: evidence files and testimonies kept encrypted, a signed chain of custody, case files.

What a copy of the workspace reveals: no witness name or contact, no transcript, no evidence file
content — those are encrypted with keys kept outside the workspace (see :mod:`dadkhah.vault.keys`).
Every addition, decryption, export and verification appends a signed, hash-chained custody event
in the same transaction as the action (:mod:`dadkhah.vault.custody`). Case files for investigative
bodies are signed BagIt bags that :mod:`dadkhah.vault.verify` checks with nothing but the tool.
"""

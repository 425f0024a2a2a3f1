"""The evaluation lab: `alt bench` and `alt score`, apart from the product pipeline.

- :mod:`.datasets`: Jam-ALT / MUSDB-ALT folders and the song manifest.
- :mod:`.shortform`: the paper's short-form task (reference lines, grouped lines).
- :mod:`.scoring`: alt-eval's metrics plus the hallucination and non-lexical rates.
- :mod:`.configs`: `alt bench`'s own settings, configurations and ``--variant``.
- :mod:`.runner`: runs songs x configurations (true stems, clips, shared models, resume).
- :mod:`.report`: scores runs, writes the results folder, renders the tables.
- :mod:`.score_files`: `alt score REF HYP`.
"""

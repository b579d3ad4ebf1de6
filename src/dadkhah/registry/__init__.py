"""The registry: the records kept from every source, the persons linkage resolved them into, finding
persons, and the dossier of one person.

Linkage (:mod:`dadkhah.link`) drives it: a linkage run assigns records to persons with stable ids
(:mod:`dadkhah.registry.persons`) and rebuilds the search index (:mod:`dadkhah.registry.search`).
What the registry shows of one person is :mod:`dadkhah.registry.dossier`; records as given and as
normalised are :mod:`dadkhah.registry.records`.
"""

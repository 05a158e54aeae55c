"""The study: what pretraining is worth, measured with paired seeds and 95 % intervals.

The course's five steps live at the top of `tlkeras`; this package measures them and imports
from them, never the other way round (a test checks it):

- `registry`, `schedule`: how recipes are registered and how long they train;
- `strategies` and the recipes beside it (`semi_supervised`, `consistency`, `neighbourhoods`);
- `label_efficiency`, `clustering`, `generative`: the downstream tasks of the map;
- `statistics`, `reports`: paired comparisons, their words, tables and result files;
- `demo_plan`, `demo`: `tlkeras demo`, which runs the map.
"""

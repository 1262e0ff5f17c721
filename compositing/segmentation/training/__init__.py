"""Transfer learning for person segmentation (pure torch; no Django).

:mod:`.data` (photo/mask pairs, the data set) and :mod:`.augmentation`; :mod:`.models`
(the trainable networks, their starting weights, export); :mod:`.loop` (``TrainConfig``,
``train``, checkpoints and resume); :mod:`.metrics` (loss and IoU); :mod:`.progress`.
``manage.py train_segmenter`` is the command-line front end.
"""

"""Segmentation weights: what each kind is (:mod:`.catalog`, the single description, no
torch) and how it is fetched (:mod:`.mediapipe`, :mod:`.torchvision_published`), converted
(:mod:`.tflite`), imported (:mod:`.checkpoint_import`), read and written (:mod:`.files`).

Nothing here is imported by the package's front door, so ``import compositing.segmentation``
stays free of torch; import the submodule you need.
"""

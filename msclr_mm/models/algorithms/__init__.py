from .multi_skeleton_recognizer import MultiSkeletonRecognizer  # noqa: F401

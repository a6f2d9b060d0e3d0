"""torchinfo's vendored files are data for the runner (test_torchinfo_suite.py), not tests
pytest collects itself: they import ``tests.conftest`` and ``torchinfo.summary`` as torchinfo's
repository lays them out, and the XL file needs torchvision and compressai."""

collect_ignore = ["torchinfo_test.py", "torchinfo_xl_test.py", "torchinfo_conftest.py", "fixtures"]

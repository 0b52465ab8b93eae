"""uint8 images <-> the networks' [-1, 1], for every uint8 value.
"""



import numpy as np

from sagan_tf.data.pixels import to_model_range, to_uint8
from tests.helpers.data import ATOL


def test_model_range_round_trip_all_values():
    x = np.arange(256, dtype=np.uint8)
    y = to_model_range(x).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x.astype(np.float64) / 127.5 - 1.0, rtol=0, atol=ATOL)
    assert y[0] == -1.0 and y[255] == 1.0
    back = to_uint8(y).numpy()
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, x)
    np.testing.assert_array_equal(to_uint8(np.array([-3.0, 3.0], np.float32)).numpy(), [0, 255])  # clipped

"""TensorFlow's "Introduction to tensors" guide, run unchanged except for its import line (the
ragged, string and sparse cells are left out: see the script's header)."""

from __future__ import annotations

import pathlib
import runpy

# what the same script prints under TensorFlow 2.21 (tensorflow-cpu), recorded once
EXPECTED = """\
rank_0 int32 4
rank_1 float32
rank_2 float16 (3, 2)
np_array [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
add [[2, 3], [4, 5]] [[2, 3], [4, 5]]
multiply [[1, 2], [3, 4]] [[1, 2], [3, 4]]
matmul [[3, 3], [7, 7]] [[3, 3], [7, 7]]
reduce_max 10.0
argmax [1, 0]
softmax [[0.2689000070095062, 0.7311000227928162], [0.9998999834060669, 9.999999747378752e-05]]
convert [1, 2, 3] 3 3
Type_of_every_element: float32
Number_of_axes: 4
Shape_of_tensor: (3, 2, 4, 5)
Elements_along_axis_0_of_tensor: 3
Elements_along_the_last_axis_of_tensor: 5
Total_number_of_elements_(3*2*4*5): 120
rank 4 shape [3, 2, 4, 5]
First: 0
Second: 1
Last: 34
Everything: [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
Before_4: [0, 1, 1, 2]
From_4_to_the_end: [3, 5, 8, 13, 21, 34]
From_2,_before_7: [1, 2, 3, 5, 8]
Every_other_item: [0, 1, 3, 8, 21]
Reversed: [34, 21, 13, 8, 5, 3, 2, 1, 1, 0]
item_1_1 4.0
Second_row: [3.0, 4.0]
Second_column: [2.0, 4.0, 6.0]
Last_row: [5.0, 6.0]
First_item_in_last_column: 2.0
Skip_the_first_row: [[3.0, 4.0], [5.0, 6.0]]
rank_3_slice [[4, 9], [14, 19], [24, 29]]
as_list [3, 1]
reshaped (3, 1) (1, 3)
flat [0, 1, 2, 3, 4, 5]
reshape_6_5 (6, 5)
reshape_3_m1 (3, 10)
reshape_error InvalidArgumentError
u8 [2, 3, 4]
broadcast [2, 4, 6] [2, 4, 6] [2, 4, 6]
outer [[1, 2, 3, 4], [2, 4, 6, 8], [3, 6, 9, 12]]
broadcast_to [[1, 2, 3], [1, 2, 3], [1, 2, 3]]
"""


def test_tensors_intro_guide_script(capsys):
    script = pathlib.Path(__file__).parent / "scripts" / "tensors_intro_guide.py"
    source = script.read_text()
    assert "import tensorflowish as tf" in source and "import tensorflow as" not in source
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.splitlines() == EXPECTED.splitlines()

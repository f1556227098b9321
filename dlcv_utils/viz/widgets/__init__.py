"""Widget wiring for the lessons' sliders (ipywidgets).

Each submodule belongs to a lesson. The rule: the callback behind a slider is a plain function
that takes the slider values and returns what is drawn (numbers, boxes, a matplotlib figure), so
it can be tested without a browser; the ``make_*`` function only wires sliders to it.
"""

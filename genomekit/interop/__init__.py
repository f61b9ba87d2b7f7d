"""Reading other projects' formats without running their code.

NVlabs' PyTorch pickles (stylegan2-ada-pytorch, stylegan3 ``networks_stylegan2``) and TensorFlow
``dnnlib.tflib`` pickles are opened with restricted unpicklers that rebuild stored objects as inert
state holders and refuse every other global, so nothing stored in a user's file is ever executed.
"""

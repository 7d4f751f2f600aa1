"""The piano-ai HTTP gateway: accepts uploads, tracks jobs, serves results. Never imports TensorFlow."""

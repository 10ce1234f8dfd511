"""What a Beam job's graph reads, for jobs whose source cannot run here (Pub/Sub)."""
from typing import List

import apache_beam as beam


def pubsub_subscriptions(pipeline: beam.Pipeline) -> List[str]:
    found = []

    class Reads(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            if isinstance(node.transform, beam.io.ReadFromPubSub):
                found.append(node.transform._source.full_subscription)

    pipeline.visit(Reads())
    return found

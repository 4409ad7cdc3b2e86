"""Print-lab fulfillment: orders submitted to labs automatically, tracked to shipment."""

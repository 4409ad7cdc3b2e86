from __future__ import annotations

from interlink.errors import Conflict, NotFound, ValidationFailed


class FulfillmentOrderNotFound(NotFound):
    code = "fulfillment_order_missing"


class FulfillmentOrderExists(Conflict):
    code = "fulfillment_order_exists"


class NotCancellable(Conflict):
    code = "fulfillment_not_cancellable"


class NotResubmittable(Conflict):
    code = "fulfillment_not_resubmittable"


class NotALab(ValidationFailed):
    code = "integration_not_a_lab"


class MappingMissing(ValidationFailed):
    code = "product_mapping_missing"


class MappingInvalid(ValidationFailed):
    code = "product_mapping_invalid"

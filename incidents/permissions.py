"""The incident domain's permissions, by name. The checks themselves are ``people.access``'s."""

COMPOSE = "incidents.add_updatedraft"
PUBLISH = "incidents.publish_update"

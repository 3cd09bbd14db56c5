package wallet

// Events lists the event names of the activity log (SPEC §3.6), in the
// order docs/openapi.json lists them. The description's ActivityEntry
// enum is held to this list (server.TestOpenAPIMatchesRoutes), so a new
// event is one line here and one in the enum.
func Events() []string {
	return []string{
		EventCredentialIssued,
		EventCredentialStatus,
		EventDeviceEnrolled,
		EventDeviceRevoked,
		EventShareApproved,
		EventShareCancelled,
		EventShareRedeemed,
		EventShareRefused,
		EventRequestReceived,
		EventRequestApproved,
		EventRequestDeclined,
	}
}

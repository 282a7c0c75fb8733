package zkserver

// ProcessGone lets the external tests check processes the way Stop does.
var ProcessGone = processGone

module github.com/mxadmin/synapse

go 1.26

require (
	github.com/hashicorp/go-retryablehttp v0.7.8
	golang.org/x/crypto v0.44.0
	golang.org/x/text v0.31.0
)

require github.com/hashicorp/go-cleanhttp v0.5.2 // indirect

<?php
/**
 * Removes the plugin's options, queued submissions and scheduled retries.
 *
 * @package Optin
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

/**
 * Clean up the current site.
 */
function optin_uninstall_site() {
	foreach ( array( 'optin_settings', 'optin_pending', 'optin_last_problem', 'optin_dropped' ) as $option ) {
		delete_option( $option );
	}
	wp_unschedule_hook( 'optin_retry' );
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $optin_site_id ) {
		switch_to_blog( $optin_site_id );
		optin_uninstall_site();
		restore_current_blog();
	}
} else {
	optin_uninstall_site();
}

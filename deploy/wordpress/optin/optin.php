<?php
/**
 * Plugin Name:       Optin
 * Plugin URI:        https://github.com/optin/optin
 * Description:       Double opt-in newsletter signups through your self-hosted optin service: a signup widget shortcode and a "subscribe me" checkbox for Contact Form 7.
 * Version:           0.1.0
 * Requires at least: 5.3
 * Requires PHP:      7.4
 * Author:            The optin authors
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       optin
 *
 * @package Optin
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'OPTIN_VERSION', '0.1.0' );
define( 'OPTIN_PLUGIN_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-optin-forwarder.php';
require_once __DIR__ . '/includes/class-optin-plugin.php';
require_once __DIR__ . '/includes/class-optin-admin.php';

/**
 * The plugin's single instance.
 *
 * @return Optin_Plugin
 */
function optin_plugin() {
	static $plugin = null;
	if ( null === $plugin ) {
		$plugin = new Optin_Plugin();
	}
	return $plugin;
}

optin_plugin()->register();
register_activation_hook( __FILE__, array( optin_plugin(), 'activate' ) );
register_deactivation_hook( __FILE__, array( optin_plugin(), 'deactivate' ) );

if ( is_admin() ) {
	( new Optin_Admin( optin_plugin() ) )->register();
}
